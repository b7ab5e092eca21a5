"""Export to ONNX (plain ONNX Runtime runs every exported graph)."""
