"""The network tier (issue 20): the three roles of the networks, Answer, Explain and Train, behind a small HTTP API,
deployed on Ray Serve when it is installed (`make serve`, `python -m resnet serve`), and the client a page uses to
call them (`RESNET_SERVE_URL`).

Modules, lightest first: `api` (the HTTP API as a Starlette app, no network of its own), `client` (the page's side:
no TensorFlow), `answer` (OpenVINO from an IR saved once: no TensorFlow), `export` (saves that IR: TensorFlow, run
in a process of its own), `explain` and `train` (TensorFlow), `deployments` (Ray Serve). Only `deployments` and
`launch` import Ray.
"""
