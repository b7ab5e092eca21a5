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

    def validate(self) -> None:
        super().validate()
        if self.max_upload_mb <= 0 or self.max_pixels <= 0 or self.timeout_s <= 0:
            raise ConfigError("max_upload_mb, max_pixels and timeout_s must be positive")
        if self.max_batch < 1 or self.batch_wait_ms < 0:
            raise ConfigError("max_batch must be >= 1 and batch_wait_ms >= 0")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be in 1..65535, got {self.port}")
