"""DBNet text detection: model, loss, label makers (targets) and post-processing."""
