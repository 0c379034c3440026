"""English intermediate-task training (easy/hard), target-task training, zero-shot evaluation."""
