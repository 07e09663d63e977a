from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dataplatform.pipeline.simulator import Simulator, SimulatorOptions
from dataplatform.web.wiring import get_pipeline


class Command(BaseCommand):
    help = (
        "Run the pipeline simulator: trigger runs of the demo datasets for today and advance their "
        "files through the worker services. Stops on Ctrl-C / SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=15.0, help="seconds between triggers (default 15)")
        parser.add_argument(
            "--failure-rate", type=float, default=0.05, help="probability that a file fails (default 0.05)"
        )
        parser.add_argument("--max-seconds", type=float, default=None, help="stop after this many seconds")
        parser.add_argument(
            "--once", action="store_true", help="trigger each dataset once and stop when those runs finish"
        )
        parser.add_argument("--workers", type=int, default=4, help="simulated worker threads (default 4)")
        parser.add_argument(
            "--step-delay", type=float, nargs=2, default=(0.3, 1.5), metavar=("MIN", "MAX"),
            help="seconds a worker spends on each step (default 0.3 1.5)",
        )
        parser.add_argument("--dataset", action="append", dest="datasets", help="only these datasets (repeatable)")
        parser.add_argument(
            "--miss-rate", type=float, default=0.1,
            help="probability that a dataset is never triggered on a business date: a missing alert (default 0.1)",
        )
        parser.add_argument(
            "--stuck-rate", type=float, default=0.1,
            help="probability that a triggered run is left without progress: a stuck alert (default 0.1)",
        )
        parser.add_argument(
            "--stuck-minutes", type=float, default=75.0,
            help="how long such a run is left alone before its files move again (default 75)",
        )
        parser.add_argument(
            "--seed", type=int, default=None,
            help="fixes which dates are missed and which runs are held (default: the same in every process)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sim_options = SimulatorOptions(
                interval=options["interval"],
                failure_rate=options["failure_rate"],
                max_seconds=options["max_seconds"],
                once=options["once"],
                workers=options["workers"],
                step_delay=tuple(options["step_delay"]),
                datasets=tuple(options["datasets"]) if options["datasets"] else None,
                miss_rate=options["miss_rate"],
                stuck_rate=options["stuck_rate"],
                stuck_minutes=options["stuck_minutes"],
                seed=options["seed"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        simulator = Simulator(get_pipeline(), sim_options, log=self.stdout.write)

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            # No lock and no output here: the interrupted main thread may hold them.
            simulator.request_stop(f"received {signal.Signals(signum).name}")

        # Signal handlers can only be installed from the main thread (not when called from a test thread).
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for stop_signal in (signal.SIGINT, signal.SIGTERM):
                previous[stop_signal] = signal.signal(stop_signal, on_signal)
        try:
            stats = simulator.run()
        finally:
            for restored, handler in previous.items():
                signal.signal(restored, handler)
        self.stdout.write(self.style.SUCCESS(f"simulator finished: {stats.summary()}"))
