"""End to end through the real tiny model: HTTP request → queue → Generator → MP4 with its record."""

from __future__ import annotations

from serve_testkit import MODEL_ID, Server

from openreel.serve.backends import RealBackend
from openreel.serve.model_facts import describe_model
from openreel.serve.worker import Worker
from openreel.video.io import read_video


def test_real_tiny_model_through_the_api(tmp_path, tiny_generator):
    srv = Server(tmp_path / "data")
    try:
        body = {"prompt": "黑色背景上，一个红色的球弹跳", "size": "16x16", "seconds": "0.5", "num_inference_steps": 3,
                "seed": 4, "guidance_scale": 3.0}
        created = srv.post(json=body).json()
        # The API resolved the request without the model exactly as the Generator does with it.
        expected = tiny_generator.resolve(body["prompt"], size="16x16", frames=9, steps=3, seed=4, guidance=3.0)
        assert created["settings"] == expected.model_dump(mode="json")  # JSON: the interval tuple reads back as a list

        seen = []
        worker = Worker(srv.queue, RealBackend(tiny_generator), srv.store, model_id=MODEL_ID, lease_s=5)
        original = srv.queue.heartbeat

        def spy(job_id, worker_id, progress, lease_s):
            seen.append(progress)
            return original(job_id, worker_id, progress, lease_s)

        srv.queue.heartbeat = spy
        assert worker.run_once()
        done = srv.get(f"/v1/videos/{created['id']}").json()
        assert done["status"] == "completed", done
        record = done["record"]
        assert record["model"]["id"] == "openreel-tiny-random"
        assert record["model"]["weights_sha256"] == tiny_generator.weights_hash
        assert set(record["timings_s"]) >= {"text", "denoise", "decode", "encode", "total"}
        assert record["settings"] == expected.model_dump(mode="json")  # JSON: the interval tuple reads back as a list

        out = tmp_path / "v.mp4"
        out.write_bytes(srv.get(f"/v1/videos/{created['id']}/content").content)
        video = read_video(out)
        assert video.frames.shape == (9, 16, 16, 3) and video.fps == 16
        assert video.record == record  # the MP4 carries the same record the API returns
        assert all(0 <= p <= 99 for p in seen)
    finally:
        srv.close()


def test_model_facts_match_the_loaded_model(tiny_generator, tiny_folder):
    for facts in (describe_model("tiny"), describe_model(str(tiny_folder))):
        model = tiny_generator.model
        assert facts.spec_name == model.spec.name
        assert facts.spatial_multiple == model.spatial_multiple and facts.temporal_stride == model.temporal_stride
        assert facts.defaults == model.defaults
