"""A small real federation: a dense network on scikit-learn's bundled handwritten digits."""
