"""The hardstack program: settings per stack and the composition of components."""
