"""The daemon's own log lines about jobs, as a lifecycle subscriber."""

from __future__ import annotations

from twisted.logger import Logger

from hookdaemon.lifecycle import Job, JobObserver, JobOutcome

log = Logger()


class JobLogLines(JobObserver):
    """
    A line when a job is queued, starts and ends. None per superseded job: in
    a burst that would be a line per delivery, and the journal says it.
    """

    def queued(self, job: Job) -> None:
        delivery = job.delivery
        log.info(
            "hook {hook}: job {job} queued for {forge} {event} {ref} {after} (delivery {id})",
            hook=job.hook.name,
            job=job.id,
            forge=delivery.forge,
            event=delivery.event,
            ref=delivery.ref or "-",
            after=delivery.after or "-",
            id=delivery.delivery_id or "-",
        )

    def started(self, job: Job) -> None:
        log.info(
            "job {job} for hook {hook} started ({ref} {after})",
            job=job.id,
            hook=job.hook.name,
            ref=job.delivery.ref or "-",
            after=job.delivery.after or "-",
        )

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        if outcome.result is None:
            return  # it never ran: the dispatcher said why when it decided
        log.info(
            "job {job} for hook {hook} {state}: {status}",
            job=job.id,
            hook=job.hook.name,
            state=outcome.state,
            status=outcome.result.describe(),
        )
