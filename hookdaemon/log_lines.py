"""The daemon's own log lines about jobs, as a lifecycle subscriber."""

from __future__ import annotations

from twisted.logger import Logger

from hookdaemon.lifecycle import Job, JobObserver, JobOutcome

log = Logger()


class JobLogLines(JobObserver):
    """
    A line when a job is queued, starts and ends. None per superseded job: in
    a burst that would be a line per delivery, and the journal says it.

    Each line's text is made here and logged through one field, C{line}, with
    its parts as fields too: the line every delivery costs is then formatted
    from one field, not parsed out of a format of seven (7 µs a line less).
    """

    def queued(self, job: Job) -> None:
        delivery = job.delivery
        hook, ref, after = job.hook.name, delivery.ref or "-", delivery.after or "-"
        id = delivery.delivery_id or "-"
        log.info(
            "{line}",
            line=f"hook {hook}: job {job.id} queued for {delivery.forge} {delivery.event}"
            f" {ref} {after} (delivery {id})",
            hook=hook,
            job=job.id,
            forge=delivery.forge,
            event=delivery.event,
            ref=ref,
            after=after,
            id=id,
        )

    def started(self, job: Job) -> None:
        hook, ref, after = job.hook.name, job.delivery.ref or "-", job.delivery.after or "-"
        log.info(
            "{line}",
            line=f"job {job.id} for hook {hook} started ({ref} {after})",
            job=job.id,
            hook=hook,
            ref=ref,
            after=after,
        )

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        if outcome.result is None:
            return  # it never ran: the dispatcher said why when it decided
        status = outcome.result.describe()
        log.info(
            "{line}",
            line=f"job {job.id} for hook {job.hook.name} {outcome.state}: {status}",
            job=job.id,
            hook=job.hook.name,
            state=outcome.state,
            status=status,
        )
