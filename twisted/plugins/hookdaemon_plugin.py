"""The twistd plugin for hookdaemon; kept trivial so dropin.cache never drops it."""

from twisted.application.service import ServiceMaker

hookdaemon = ServiceMaker(
    "hookdaemon",
    "hookdaemon.tap",
    "Receive forge webhooks and run deploy commands in the background.",
    "hookdaemon",
)
