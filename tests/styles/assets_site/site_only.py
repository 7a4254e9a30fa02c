"""An assets-only project: workerlab needs a main module, and this one handles no event, so every
request is the assets' to answer."""
