"""The HTTP API in process (TestClient) with fake workers in threads: shapes, keys, limits, errors."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image
from serve_testkit import MODEL_ID, SMALL, Server, running, wait_for

from openreel.errors import PolicyViolation
from openreel.video.io import read_video

# Tight limits, so the limit tests need no big requests.
LIMITS = {"max_steps": 50, "max_frames": 33, "max_pixels": 64 * 64, "max_prompt_chars": 200}


@pytest.fixture
def srv(tmp_path):
    server = Server(tmp_path / "data", limits=LIMITS, max_upload_bytes=4096, max_upload_pixels=48 * 48)
    yield server
    server.close()


def create(srv, key="a", **fields):
    r = srv.post(key, json={"prompt": "a red ball bounces", **SMALL, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def error_of(r, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_create_poll_download_delete(srv):
    v = create(srv, seed=3, num_inference_steps=4)
    assert v["object"] == "video" and v["status"] == "queued" and v["progress"] == 0
    assert v["model"] == MODEL_ID and v["size"] == "32x32" and v["seconds"] == "0.5"
    assert v["settings"]["frames"] == 9 and v["settings"]["seed"] == 3 and v["settings"]["steps"] == 4
    assert isinstance(v["created_at"], int) and v["completed_at"] is None and v["error"] is None
    with running(srv.worker()):
        done = wait_for(lambda: (r := srv.get(f"/v1/videos/{v['id']}").json())["status"] == "completed" and r)
    r = srv.get(f"/v1/videos/{v['id']}")
    assert r.headers["openai-poll-after-ms"] == "100"
    assert done["progress"] == 100 and done["completed_at"] >= done["created_at"]
    assert done["record"]["settings"]["seed"] == 3 and done["record"]["kind"] == "openreel.generation"

    mp4 = srv.get(f"/v1/videos/{v['id']}/content")
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    path = srv.config.data_dir / "check.mp4"
    path.write_bytes(mp4.content)
    video = read_video(path)
    assert video.frames.shape == (9, 32, 32, 3) and video.record["settings"]["seed"] == 3
    for variant in ("thumbnail", "spritesheet"):
        r = srv.get(f"/v1/videos/{v['id']}/content", params={"variant": variant})
        assert r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")
    ranged = srv.client.get(f"/v1/videos/{v['id']}/content", headers=srv.headers() | {"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100  # browsers seek with ranges

    folder = srv.store.folder(v["id"])
    assert sorted(p.name for p in folder.iterdir()) == ["spritesheet.png", "thumbnail.png", "video.json", "video.mp4"]
    assert srv.delete(f"/v1/videos/{v['id']}").json() == {"id": v["id"], "object": "video.deleted", "deleted": True}
    assert not folder.exists()
    assert error_of(srv.get(f"/v1/videos/{v['id']}"), 404)["code"] == "video_not_found"


def test_multipart_and_form_bodies_work_like_json(srv):
    r = srv.post(data={"prompt": "黑色背景上，一个蓝色方块向右移动", "seconds": "0.5", "size": "32x32", "seed": "9",
                       "guidance_scale": "2.5"}, files={"model": (None, MODEL_ID)})
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["prompt"] == "黑色背景上，一个蓝色方块向右移动" and v["settings"]["seed"] == 9
    assert v["settings"]["guidance"] == 2.5
    r = srv.post(data={"prompt": "a cube", "num_frames": "5", "size": "16x16"})  # url-encoded form
    assert r.status_code == 200 and r.json()["settings"]["frames"] == 5


def test_progress_rises_and_the_record_arrives(srv):
    v = create(srv, num_inference_steps=20)
    seen = []
    with running(srv.worker(step_s=0.03, lease_s=1.0)):
        def done():
            seen.append(srv.get(f"/v1/videos/{v['id']}").json())
            return seen[-1]["status"] == "completed"
        wait_for(done, every=0.02)
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert any(0 < p < 100 for p in progress), progress
    assert any(s["status"] == "in_progress" for s in seen)


def test_list_pagination_and_order(srv):
    ids = [create(srv)["id"] for _ in range(3)]
    page = srv.get("/v1/videos", params={"limit": 2}).json()
    assert page["object"] == "list" and [v["id"] for v in page["data"]] == ids[::-1][:2]
    assert page["has_more"] and page["last_id"] == ids[1] and page["first_id"] == ids[2]
    rest = srv.get("/v1/videos", params={"limit": 2, "after": page["last_id"]}).json()
    assert [v["id"] for v in rest["data"]] == [ids[0]] and not rest["has_more"]
    asc = srv.get("/v1/videos", params={"order": "asc"}).json()
    assert [v["id"] for v in asc["data"]] == ids


def test_other_keys_get_404_not_403(srv):
    v = create(srv, key="a")
    missing = error_of(srv.get("/v1/videos/video_" + "0" * 32, key="b"), 404)
    for path in (f"/v1/videos/{v['id']}", f"/v1/videos/{v['id']}/content"):
        err = error_of(srv.get(path, key="b"), 404)
        assert err["code"] == missing["code"] == "video_not_found"  # indistinguishable from a missing id
    assert error_of(srv.delete(f"/v1/videos/{v['id']}", key="b"), 404)["code"] == "video_not_found"
    assert srv.get("/v1/videos", key="b").json()["data"] == []
    assert error_of(srv.get("/v1/videos", key="b", params={"after": v["id"]}), 400)["param"] == "after"
    assert srv.get(f"/v1/videos/{v['id']}", key="a").json()["status"] == "queued"  # untouched


def test_authentication(srv):
    assert error_of(srv.get("/v1/videos", key=None), 401)["code"] == "missing_api_key"
    assert error_of(srv.get("/v1/videos", key="ork_not-a-real-key"), 401)["code"] == "invalid_api_key"
    assert error_of(srv.client.get("/v1/videos", headers={"Authorization": "Basic abc"}), 401)
    srv.keys.revoke("bob")
    assert error_of(srv.get("/v1/models", key="b"), 401)["code"] == "invalid_api_key"
    assert srv.client.get("/health").status_code == 200  # no key needed, no per-key data
    stored = srv.keys.db.read("SELECT sha256 FROM api_keys")
    assert all(srv.key_a not in r[0] for r in stored) and len(stored[0][0]) == 64  # only hashes are kept


def test_open_mode_needs_no_key(tmp_path, caplog):
    server = Server(tmp_path / "data", open=True)
    try:
        assert "OPEN MODE" in caplog.text
        r = server.client.post("/v1/videos", json={"prompt": "a ball", **SMALL})
        assert r.status_code == 200
        assert server.client.get("/v1/videos").json()["data"][0]["id"] == r.json()["id"]
        assert server.client.get("/health").json()["auth"] == "open"
    finally:
        server.close()


def test_rate_limit_answers_429_with_retry_after(tmp_path):
    server = Server(tmp_path / "data", requests_per_minute=3)
    try:
        for _ in range(3):
            assert server.get("/v1/models").status_code == 200
        r = server.get("/v1/models")
        err = error_of(r, 429)
        assert err["code"] == "rate_limit_exceeded" and "3 requests per minute" in err["message"]
        assert int(r.headers["Retry-After"]) >= 1
        assert server.get("/v1/models", key="b").status_code == 200  # per key
    finally:
        server.close()


def test_concurrent_job_limit(tmp_path):
    server = Server(tmp_path / "data", max_active_jobs=2)
    try:
        first = create(server)
        create(server)
        r = server.post(json={"prompt": "third", **SMALL})
        err = error_of(r, 429)
        assert err["code"] == "too_many_active_jobs" and "limit is 2" in err["message"] and r.headers["Retry-After"]
        create(server, key="b")  # another key has its own limit
        server.delete(f"/v1/videos/{first['id']}")
        create(server)
    finally:
        server.close()


def test_idempotency_key(srv):
    body = {"prompt": "a red ball", **SMALL}
    a = srv.post(json=body, headers={"Idempotency-Key": "req-1"})
    b = srv.post(json=body, headers={"Idempotency-Key": "req-1"})
    assert a.status_code == b.status_code == 200 and a.json()["id"] == b.json()["id"]
    assert b.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in a.headers
    assert a.json()["settings"]["seed"] == b.json()["settings"]["seed"]
    err = error_of(srv.post(json=body | {"prompt": "other"}, headers={"Idempotency-Key": "req-1"}), 409)
    assert err["param"] == "Idempotency-Key" and err["code"] == "idempotency_key_reused"
    c = srv.post(key="b", json=body, headers={"Idempotency-Key": "req-1"})
    assert c.json()["id"] != a.json()["id"]
    assert len(srv.get("/v1/videos").json()["data"]) == 1

    results = []
    threads = [threading.Thread(target=lambda: results.append(
        srv.post(json=body, headers={"Idempotency-Key": "race"}).json()["id"])) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1


def test_delete_cancels_a_queued_and_a_running_job(srv):
    queued = create(srv)
    assert srv.delete(f"/v1/videos/{queued['id']}").status_code == 200
    running_job = create(srv, num_inference_steps=50)
    worker = srv.worker(step_s=0.1, lease_s=0.4)  # a 5 s job; heartbeats every 0.1 s
    with running(worker):
        wait_for(lambda: srv.get(f"/v1/videos/{running_job['id']}").json()["progress"] > 0, what="progress")
        assert srv.delete(f"/v1/videos/{running_job['id']}").json()["deleted"]
        wait_for(lambda: srv.queue.db.read("SELECT COUNT(*) FROM jobs WHERE status = 'in_progress'")[0][0] == 0
                 or not any(srv.store.tmp.iterdir()), timeout=3, what="the worker to stop")
        wait_for(lambda: not any(srv.store.tmp.iterdir()), timeout=3, what="scratch files to go")
    row = srv.queue.db.read("SELECT status, progress FROM jobs WHERE id = ?", (running_job["id"],))[0]
    assert row["status"] == "in_progress" and row["progress"] < 90  # stopped mid-way, never completed
    assert not srv.store.folder(running_job["id"]).exists()
    assert error_of(srv.get(f"/v1/videos/{running_job['id']}"), 404)
    assert srv.queue.claim("w", [MODEL_ID], 10) is None  # nothing left to run


def test_failed_generation_is_retried_then_reported(tmp_path):
    server = Server(tmp_path / "data", max_attempts=2)
    try:
        v = create(server, prompt="a ball [fake-fail]")
        server.worker().run_once()
        assert server.get(f"/v1/videos/{v['id']}").json()["status"] == "queued"  # retried
        server.worker().run_once()
        failed = server.get(f"/v1/videos/{v['id']}").json()
        assert failed["status"] == "failed" and failed["error"]["code"] == "generation_failed"
        assert "fake backend asked to fail" in failed["error"]["message"]
        assert error_of(server.get(f"/v1/videos/{v['id']}/content"), 409)["code"] == "video_not_ready"
    finally:
        server.close()


def test_models_and_health(srv):
    models = srv.get("/v1/models").json()
    (m,) = models["data"]
    assert m["id"] == MODEL_ID and m["object"] == "model"
    info = m["openreel"]
    assert info["size_multiple"] == 16 and info["frame_stride"] == 4 and info["limits"]["max_steps"] == 50
    assert info["sizes"]["1:1"] == "256x256" and info["supports_input_reference"] is False
    assert srv.get(f"/v1/models/{MODEL_ID}").json()["id"] == MODEL_ID
    assert error_of(srv.get("/v1/models/sora-2"), 404)["param"] == "model"
    health = srv.client.get("/health").json()
    assert health["status"] == "ok" and health["queue"] == {"queued": 0, "in_progress": 0}


def test_web_page_and_docs_are_served_locally(srv):
    page = srv.client.get("/")
    assert page.status_code == 200 and "<textarea id=\"prompt\"" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/app.css"):
        assert srv.client.get(asset).status_code == 200
    text = page.text + srv.client.get("/static/app.js").text + srv.client.get("/static/app.css").text
    assert "http://" not in text and "https://" not in text  # no CDN, no network fetch
    spec = srv.client.get("/openapi.json").json()
    assert "/v1/videos" in spec["paths"] and "CreateVideoRequest" in spec["components"]["schemas"]
    assert srv.client.get("/docs").status_code == 200


def test_policy_violation_is_400_with_its_category(srv, monkeypatch):
    def refuse(request, limits):
        raise PolicyViolation("prompt", "violence", "this prompt asks for graphic violence")

    monkeypatch.setattr(srv.model, "resolve", refuse)
    err = error_of(srv.post(json={"prompt": "something refused"}), 400)
    assert err == {"message": "prompt: this prompt asks for graphic violence", "type": "policy_violation",
                   "param": "prompt", "code": "violence"}


# ---- every validation error: a 4xx naming the field (param) and the limit ----------------------------------

def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


JSON_CASES = [  # (fields, param, words in the message)
    ({"prompt": None}, "prompt", "valid string"),
    ({"prompt": "   "}, "prompt", "empty"),
    ({"prompt": "x" * 201}, "prompt", "limit is 200"),
    ({"prompt": "长" * 90}, "prompt", "at most 256"),  # 270 UTF-8 bytes: over the tokenizer's 256
    ({"negative_prompt": "n" * 300}, "negative_prompt", "at most 256"),
    ({"size": "33x32"}, "size", "multiples of 16"),
    ({"size": "big"}, "size", "WIDTHxHEIGHT"),
    ({"size": "128x128"}, "size", "limit is 4096"),
    ({"aspect": "2:1", "size": None}, "aspect", "16:9"),
    ({"seconds": "two"}, "seconds", "number of seconds"),
    ({"seconds": "0.7"}, "seconds", "nearest valid: 0.5 s or 0.75 s"),
    ({"seconds": "0"}, "seconds", "> 0"),
    ({"seconds": "4"}, "seconds", "limit of 33"),
    ({"num_frames": 9}, "seconds", "not both"),
    ({"num_frames": 10, "seconds": None}, "num_frames", "nearest valid: 9 or 13"),
    ({"num_frames": 37, "seconds": None}, "num_frames", "limit of 33"),
    ({"num_inference_steps": 51}, "num_inference_steps", "limit of 50"),
    ({"num_inference_steps": 0}, "num_inference_steps", ">= 1"),
    ({"guidance_scale": 51}, "guidance_scale", "<= 50"),
    ({"fps": 0}, "fps", "> 0"),
    ({"fps": 500}, "fps", "<= 120"),
    ({"seed": -1}, "seed", ">= 0"),
    ({"seed": "abc"}, "seed", "integer"),
    ({"quality": "high"}, "quality", "not a field"),
    ({"model": "sora-2"}, "model", "not served here"),
    ({"input_reference": {"image_url": "http://169.254.169.254/"}}, "input_reference", "not fetched"),
]


@pytest.mark.parametrize("fields, param, words", JSON_CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(JSON_CASES)])
def test_validation_errors_name_the_field_and_limit(srv, fields, param, words):
    body = {"prompt": "a red ball bounces", **SMALL, **fields}
    body = {k: v for k, v in body.items() if v is not None or k == "prompt"}
    err = error_of(srv.post(json=body), 400)
    assert err["param"] == param and words in err["message"] and err["message"].startswith(param)
    assert srv.queue.counts()["queued"] == 0  # nothing was queued


def image_post(srv, data: bytes, filename="ref.png", ctype="image/png"):
    return srv.post(data={"prompt": "a ball", **SMALL}, files={"input_reference": (filename, data, ctype)})


def test_upload_limits(srv):
    big = error_of(image_post(srv, b"\x89PNG" + b"0" * 5000), 413)
    assert big["param"] == "input_reference" and "4096 bytes" in big["message"]
    wrong = error_of(image_post(srv, b"#!/bin/sh\necho hi\n", "ref.png"), 415)
    assert wrong["param"] == "input_reference" and "PNG, JPEG, WEBP" in wrong["message"]
    huge = error_of(image_post(srv, png(60, 60)), 400)
    assert huge["code"] == "image_too_large" and "limit is 2304 pixels" in huge["message"]
    corrupt = error_of(image_post(srv, png(20, 20)[:-30]), 400)
    assert corrupt["param"] == "input_reference" and corrupt["code"] == "invalid_image"
    fine = error_of(image_post(srv, png(20, 20)), 400)  # a valid image, but no image-to-video model yet
    assert fine["code"] == "unsupported_parameter" and fine["param"] == "input_reference"
    extra = error_of(srv.post(data={"prompt": "x"}, files={"other": ("a.png", png(4, 4), "image/png")}), 400)
    assert extra["param"] == "other"


def test_body_errors(srv):
    not_json = srv.post(content=b"{not json", headers={"Content-Type": "application/json"})
    assert error_of(not_json, 400)["param"] == "body"
    assert error_of(srv.post(json=["a list"]), 400)["param"] == "body"
    err = error_of(srv.post(content=b"prompt", headers={"Content-Type": "text/plain"}), 415)
    assert err["param"] == "Content-Type"
    err = error_of(srv.post(files={"prompt": (None, "p" * 70_000)}), 413)
    assert err["param"] == "prompt" and "65536 bytes" in err["message"]
    too_big = srv.post(content=b"x", headers={"Content-Type": "application/json", "Content-Length": str(10**9)})
    assert error_of(too_big, 413)["param"] == "body"
    err = error_of(srv.post(json={"prompt": "x"}, headers={"Idempotency-Key": "k" * 300}), 400)
    assert err["param"] == "Idempotency-Key"


def test_query_and_path_errors(srv):
    for params, param in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"order": "sideways"}, "order")):
        assert error_of(srv.get("/v1/videos", params=params), 400)["param"] == param
    v = create(srv)
    assert error_of(srv.get(f"/v1/videos/{v['id']}/content", params={"variant": "gif"}), 400)["param"] == "variant"
    assert error_of(srv.get(f"/v1/videos/{v['id']}/content"), 409)["code"] == "video_not_ready"
    assert error_of(srv.get("/v1/nothing"), 404)["code"] == "not_found"
    assert error_of(srv.client.put("/v1/videos"), 405)
    for bad in ("..%2F..%2Fopenreel.db", "video_../../x", "%2Fetc%2Fpasswd"):  # never a path
        assert srv.get(f"/v1/videos/{bad}/content").status_code == 404


def test_verify_endpoint(srv, tmp_path, tiny_generator):
    """POST /v1/verify runs `openreel verify` on the uploaded bytes; records stay private."""
    from openreel.video.io import write_mp4

    mp4 = srv.headers() | {"Content-Type": "video/mp4"}
    signed = tmp_path / "signed.mp4"
    tiny_generator.generate("a red ball", seed=0, size="128x128", frames=9, steps=1).save(signed)
    r = srv.client.post("/v1/verify", content=signed.read_bytes(), headers=mp4)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["verdict"] == "verified" and report["exit_code"] == 0
    assert report["c2pa"]["state"] == "trusted" and report["watermark"]["state"] == "found"
    assert report["record_found"] is True and "record" not in report and "path" not in report

    tampered = bytearray(signed.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    r = srv.client.post("/v1/verify", content=bytes(tampered), headers=mp4)
    assert r.json()["verdict"] == "tampered" and r.json()["exit_code"] == 3

    plain = write_mp4(np.zeros((9, 128, 128, 3), np.uint8), tmp_path / "plain.mp4", fps=16)
    r = srv.client.post("/v1/verify", content=plain.read_bytes(), headers=mp4)
    assert r.json()["verdict"] == "not_openreel" and r.json()["exit_code"] == 2
    assert error_of(srv.client.post("/v1/verify", content=b"", headers=srv.headers()), 400)["param"] == "body"
    assert error_of(srv.client.post("/v1/verify", content=b"x", headers=srv.headers(None)), 401)
    assert not list((srv.config.data_dir / "scratch").iterdir())  # the upload is not kept
