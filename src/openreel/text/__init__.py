"""Text encoding: prompt → embeddings."""
