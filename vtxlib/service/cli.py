"""The ``serve`` command: ``python -m vtxlib serve [--host 127.0.0.1 --port 8000]``."""

import logging
from pathlib import Path

from ..cli_options import add_pipeline_arguments, pipeline_options_from_args
from ..errors import InputError, missing_dependency
from .app import create_app
from .models import ServiceOptions
from .security import API_KEY_ENV, is_loopback_host, load_api_key

log = logging.getLogger("vtxlib.service")


def add_parser(subparsers) -> None:
    """Register ``serve`` (``python -m vtxlib serve``)."""
    defaults = ServiceOptions()
    p = subparsers.add_parser("serve", help="HTTP service: POST /transcribe, GET /status, GET /jobs/{id}")
    p.add_argument("--host", default=defaults.host,
                   help="address to bind (default 127.0.0.1; any other address needs an API key)")
    p.add_argument("--port", type=int, default=defaults.port, help="port (default 8000)")
    p.add_argument("--max-upload-mb", type=float, default=defaults.max_upload_mb, help="upload size limit")
    p.add_argument("--sync-max-seconds", type=float, default=defaults.sync_max_seconds,
                   help="longer media run as background jobs (202 + job id)")
    p.add_argument("--max-pending-jobs", type=int, default=defaults.max_pending_jobs,
                   help="queued + running jobs before the server answers 503")
    p.add_argument("--no-urls", action="store_true", help="refuse 'url' requests (uploads only)")
    p.add_argument("--api-key-file", type=Path, default=None,
                   help=f"file holding the API key (default: ${API_KEY_ENV}); clients send 'Authorization: Bearer <key>'")
    p.add_argument("--trusted-host", action="append", default=[], metavar="NAME",
                   help="Host header name to accept besides localhost/127.0.0.1/[::1] (repeatable)")
    p.add_argument("--allow-url-network", action="append", default=[], metavar="NET",
                   help="private network 'url' may download from, e.g. 10.0.0.0/8 (repeatable; "
                        "default: public addresses only)")
    p.add_argument("--retention-days", type=float, default=None, metavar="DAYS",
                   help="delete job records and outputs, source records and media caches older than DAYS "
                        "(at start and hourly; default: keep everything)")
    p.add_argument("--workspace", type=Path, default=None,
                   help="cache folder (default: $VTX_WORKSPACE, Drive on Colab, else ./vtx-workspace)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_pipeline_arguments(p)
    p.set_defaults(func=cmd_serve)


EXIT_ADDRESS_IN_USE = 4  # `serve`: the port is taken (1: other user errors, 3 is run's "incomplete")


class AddressInUse(InputError):
    exit_code = EXIT_ADDRESS_IN_USE


def check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise InputError(f"--port {port}: expected a port number from 1 to 65535 (0 picks a free one)")


def check_can_listen(host: str, port: int) -> None:
    """Bind HOST:PORT once and let go, so a port already in use is named before the models load
    (the server binds it again, with the same SO_REUSEADDR, once it starts)."""
    import errno
    import socket

    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise AddressInUse(f"{host}:{port} is already in use (another server?); stop it or choose "
                                   f"another --port") from None
            if e.errno == errno.EADDRNOTAVAIL:
                raise InputError(f"cannot listen on {host}: this machine has no such address") from None
            raise InputError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
        except (socket.gaierror, UnicodeError) as e:
            raise InputError(f"cannot listen on {host}: {e}") from None


def cmd_serve(args) -> int:
    try:
        import uvicorn
    except ImportError as e:
        raise missing_dependency("uvicorn", "service", "The HTTP service") from e
    from ..workspace import Workspace

    check_port(args.port)
    if args.retention_days is not None and args.retention_days <= 0:
        raise InputError(f"--retention-days {args.retention_days:g}: expected a number of days above 0")
    options = ServiceOptions(host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
                             sync_max_seconds=args.sync_max_seconds, max_pending_jobs=args.max_pending_jobs,
                             allow_urls=not args.no_urls, api_key=load_api_key(args.api_key_file),
                             trusted_hosts=tuple(args.trusted_host),
                             allow_url_networks=tuple(args.allow_url_network),
                             retention_days=args.retention_days)
    if not options.api_key and not is_loopback_host(options.host):
        raise InputError(f"refusing to bind to {options.host} without an API key: set {API_KEY_ENV} or pass "
                         f"--api-key-file FILE (clients send 'Authorization: Bearer <key>'), or bind to 127.0.0.1")
    options.url_policy()  # a bad --allow-url-network fails here, before the models load
    check_can_listen(options.host, options.port)  # and a port in use
    log.info("API key %s", "required" if options.api_key else "not set: loopback only")
    workspace, pipeline_options = Workspace(args.workspace), pipeline_options_from_args(args)
    if pipeline_options.voices:  # a bad clip in the configured folder fails now, not on the first request
        from ..voices import check_clips

        check_clips(pipeline_options.voices, workspace.voices_dir)
    app = create_app(workspace, options, pipeline_options)
    uvicorn.run(app, host=options.host, port=options.port,
                log_level="info" if getattr(args, "verbose", 0) else "warning")
    return 0
