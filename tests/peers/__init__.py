"""Real peers (servers moisson talks to) started by the test suite, each in its own environment."""
