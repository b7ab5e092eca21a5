"""Models: backbones, the DBNet detector, the recognizers, and the name -> builder registry."""
