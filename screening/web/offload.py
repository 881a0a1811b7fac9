"""Views whose work may take long without the database run off the serving loop.

The serving loop (``screening.server.loop_worker``) serves a process's requests from one
thread: a view that computes for long (an argon2 password hash, a shadow run over many
submissions) or waits on something other than the database (DNS resolution of a webhook's
host) would hold up every other request of its process meanwhile. ``off_the_loop`` runs
such a view on one of the loop's threads, with the request's context, while the loop
goes on serving; elsewhere (tests, the command line) the view simply runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app

EXTENSION = "screening.offload"  # app.extensions key: the loop's runner, when it serves
F = TypeVar("F", bound=Callable[..., Any])


def off_the_loop(view: F) -> F:
    """Runs ``view`` on the serving loop's threads when the loop serves this request."""

    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        runner = current_app.extensions.get(EXTENSION)
        if runner is None:
            return view(*args, **kwargs)
        return runner(lambda: view(*args, **kwargs))

    return run  # type: ignore[return-value]
