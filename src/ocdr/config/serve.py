"""The ``ocdr serve`` spec."""
from __future__ import annotations

from dataclasses import dataclass, field

from ocdr.errors import ConfigError
from ocdr.config.pipeline import PipelineModelsSpec

__all__ = ["ServeSpec"]


@dataclass
class ServeSpec(PipelineModelsSpec):
    """The pipeline's keys (models, their setting overrides) and the service's own."""
    host: str = field(default="127.0.0.1", metadata={"help": "address to listen on (0.0.0.0: every interface)"})
    port: int = field(default=8000, metadata={"help": "TCP port"})
    max_upload_mb: float = field(default=10.0, metadata={"help": "largest request body (413 above)"})
    max_pixels: int = field(default=25_000_000, metadata={"help": "largest image, width x height (413 above)"})
    timeout_s: float = field(default=60.0, metadata={"help": "a request waiting longer gets 504"})
    max_batch: int = field(default=8, metadata={"help": "images recognised in one pipeline call"})
    batch_wait_ms: float = field(default=10.0, metadata={"help": "how long a request waits for others to batch with"})
    read_timeout_s: float = field(default=30.0, metadata={
        "help": "longest a client may take to send a request's headers or its whole body (408 / closed above)"})
    keep_alive_s: int = field(default=5, metadata={"help": "an idle kept-alive connection is closed after this"})
    decode_workers: int = field(default=2, metadata={
        "help": "threads decoding uploads (off the event loop); more uploads wait their turn"})

    def validate(self) -> None:
        super().validate()
        if min(self.max_upload_mb, self.max_pixels, self.timeout_s, self.read_timeout_s, self.keep_alive_s) <= 0:
            raise ConfigError("max_upload_mb, max_pixels, timeout_s, read_timeout_s and keep_alive_s must be positive")
        if self.decode_workers < 1:
            raise ConfigError(f"decode_workers must be >= 1, got {self.decode_workers}")
        if self.max_batch < 1 or self.batch_wait_ms < 0:
            raise ConfigError("max_batch must be >= 1 and batch_wait_ms >= 0")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be in 1..65535, got {self.port}")
