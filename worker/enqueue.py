"""Enqueue a message on this process's broker, from any module of the worker.

The broker is built once per process and made dramatiq's current broker before
any actor is declared or any message sent (`worker.broker.get_broker` in a worker
process, `install_broker` in the embedded mode). Sending reads it from dramatiq,
not from `worker.broker`, so the modules the broker's own middleware reaches (the
pipeline, through the claim release) never import the module that builds it.
"""

from __future__ import annotations

import dramatiq
from dramatiq import broker as dramatiq_broker


def current_broker() -> dramatiq.Broker:
    """The broker this process built; an error, never dramatiq's default RabbitMQ one."""
    broker = dramatiq_broker.global_broker
    if broker is None:
        raise RuntimeError("no broker in this process yet (worker.broker.get_broker builds it)")
    return broker


def send_now(queue: str, actor: str, **kwargs: object) -> None:
    """Enqueue a message for `actor` on the current broker (a job with no payload of
    note, such as "send the pending notifications now")."""
    current_broker().enqueue(
        dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs=kwargs, options={})
    )
