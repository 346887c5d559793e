import asyncio
import contextvars

current_db: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_db", default=None)
current_user: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_user", default=None)
current_mode: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_mode", default=None)
# One database at a time: a module's fixture holds it until its teardown releases it.
database_lock: asyncio.Lock | None = None


def lock() -> asyncio.Lock:
    global database_lock
    if database_lock is None:
        database_lock = asyncio.Lock()
    return database_lock
current_trace: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_trace", default=None)
current_request: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_request", default=None)
