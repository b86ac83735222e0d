"""The roles as Ray Serve deployments, and the ingress that serves the HTTP API (`resnet.serving.api`) on them.

    Ingress (the Starlette app, num_cpus 0) ──handles──► Answer (OpenVINO IR, no TensorFlow; N replicas)
                                                     ├──► Explain (TensorFlow)
                                                     └──► Train (TensorFlow; one run per replica)

Each role's method runs through `api.role_call` in the role's replica, so what crosses Ray is small JSON values and
one-line refusals, never a traceback. A replica that dies mid-request makes that request an HTTP 500 (Serve does not
retry it); the client retries an idempotent request once (`resnet.serving.client`).

No `@serve.batch`: on CPU it does not pay. A batch of N crops costs about N forward passes on the same cores
(OpenVINO already uses every core for one): measured on this 2-core AVX2 machine, busy with other work, 213–237 ms a
crop alone, 197–223 ms in batches of 4, 193–215 ms in one call of 8, within the noise; and waiting to fill a batch
adds latency and memory (490 MB against 314–424 MB a replica in the issue's probe). On a GPU it would pay, and
`max_ongoing_requests` with `@serve.batch` on `AnswerDeployment.call` is where to start.
"""

from __future__ import annotations

from pathlib import Path

from ray import serve

from resnet.serving.api import Problem, create_app, role_call

# Logical CPUs each replica asks Ray for: what the scheduler counts, not a cap on the threads it runs.
ANSWER_CPUS, EXPLAIN_CPUS, TRAIN_CPUS = 1.0, 0.5, 0.5
ROLES = ("answer", "explain", "train")


class _Role:
    """What every role deployment does with a call: `role_call` on its role, here in the replica."""

    role: object

    def call(self, method: str, args: tuple, kwargs: dict) -> dict:
        return role_call(self.role, method, args, kwargs)

    def check_health(self) -> None:
        pass  # the role was built in __init__; a dead replica does not answer at all


@serve.deployment(name="Answer", ray_actor_options={"num_cpus": ANSWER_CPUS}, max_ongoing_requests=16,
                  health_check_period_s=2, health_check_timeout_s=10)
class AnswerDeployment(_Role):
    def __init__(self, arch: str, weights: str | None, seed: int, folder: str | None = None):
        from resnet.serving.answer import Answer

        self.role = Answer(arch, weights, seed=seed, folder=Path(folder) if folder else None)


@serve.deployment(name="Explain", ray_actor_options={"num_cpus": EXPLAIN_CPUS}, max_ongoing_requests=4)
class ExplainDeployment(_Role):
    def __init__(self, arch: str, weights: str | None, seed: int):
        from resnet.serving.explain import Explain

        self.role = Explain(arch, weights, seed=seed)


@serve.deployment(name="Train", ray_actor_options={"num_cpus": TRAIN_CPUS}, max_ongoing_requests=1)
class TrainDeployment(_Role):
    def __init__(self):
        from resnet.serving.train import Train

        self.role = Train()


class HandleBackend:
    """api.Backend over Serve's handles: each call goes to a replica of its role."""

    def __init__(self, handles: dict):
        self.handles = {name: handle for name, handle in handles.items() if handle is not None}

    async def __call__(self, role: str, method: str, args: tuple, kwargs: dict) -> dict:
        if role not in self.handles:
            raise Problem(503, f"the {role} role is not deployed on this server")
        return await self.handles[role].call.remote(method, args, kwargs)


@serve.deployment(name="Ingress", ray_actor_options={"num_cpus": 0}, max_ongoing_requests=256)
@serve.ingress()
class Ingress:
    def __init__(self, answer, explain=None, train=None):
        self.backend = HandleBackend({"answer": answer, "explain": explain, "train": train})

    def __serve_build_asgi_app__(self):
        return create_app(self.backend)


def application(arch: str = "resnet50", weights: str | None = "imagenet", *, seed: int = 0,
                roles: tuple[str, ...] = ROLES, answer_replicas: int = 1, folder: str | None = None):
    """The Serve application: the ingress bound to the roles asked for (the Answer role always).
    `folder`: an exported IR to answer from (default: the one for `arch` and its weights, exported if missing)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; use some of {ROLES}")
    answer = AnswerDeployment.options(num_replicas=answer_replicas).bind(arch, weights, seed, folder)
    explain = ExplainDeployment.bind(arch, weights, seed) if "explain" in roles else None
    train = TrainDeployment.bind() if "train" in roles else None
    return Ingress.bind(answer, explain, train)
