"""hypernet -> shape: a shape read off the weights of networks fitted to its pictures."""
