"""ocdr: build your own OCR: fine-tune a text detector and recognizer, evaluate, export and serve."""
__version__ = "0.1.0"
__all__ = ["OCR"]


def __getattr__(name: str):
    # Lazy, so `import ocdr` (and the data commands) do not pay for importing torch.
    if name == "OCR":
        from ocdr.pipeline.ocr import OCR  # lazy: `import ocdr` (and the data commands) do not pay for the pipeline

        return OCR
    raise AttributeError(f"module 'ocdr' has no attribute {name!r}")
