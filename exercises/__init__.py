"""The exercises of the backprop kit: fill in each stub, then run `make check`."""
