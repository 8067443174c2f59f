"""The edge: the bank the batches are paid through."""
