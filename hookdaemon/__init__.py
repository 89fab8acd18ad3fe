"""hookdaemon: receive forge webhooks, check they are genuine, deploy in the background."""

__version__ = "0.1.0"
