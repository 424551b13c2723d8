"""`python -m app`: serve the lesson with the host and port from the settings."""

import uvicorn

from app.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # Many classroom browsers poll at once; uvicorn's own access log would drown real events.
        access_log=False,
        timeout_graceful_shutdown=5,
        # Idle browsers poll every ~4 s: a keep-alive shorter than that makes them race the
        # server's close of the connection they are about to reuse.
        timeout_keep_alive=30,
        # X-Forwarded-For names the client only when a proxy the settings name sent it; by
        # default nobody is trusted (uvicorn's own default trusts 127.0.0.1, so anything on this
        # host could pose as many addresses and dodge the per-address limits).
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


if __name__ == "__main__":
    main()
