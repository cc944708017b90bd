"""The reference solutions of the backprop kit."""
