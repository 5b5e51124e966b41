"""The gateway's own answer bodies: the problem every error is. Request bodies and the answers the services give
live in ``shop_api``, once for the gateway and the service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FieldErrorOut(BaseModel):
    """One thing wrong with the request, and where."""

    field: str = Field(
        examples=["lines[0].quantity"],
        description="Where: a body field as a path (``lines[0].quantity``; ``body`` for the whole body), or a "
        "parameter as ``query:<name>``, ``header:<name>`` or ``path:<name>``",
    )
    message: str = Field(examples=["Input should be greater than or equal to 1"], description="What is wrong")


class ProblemOut(BaseModel):
    """An error as RFC 9457 problem details (``application/problem+json``): every 4xx and 5xx answer of the API.
    Clients branch on ``status`` and ``code``; ``title`` and ``detail`` are for people."""

    model_config = ConfigDict(
        extra="allow",
        title="Problem",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://shop.example/problems/validation_error",
                    "title": "The request is not valid",
                    "status": 422,
                    "detail": "lines[0].quantity: Input should be greater than or equal to 1",
                    "code": "validation_error",
                    "errors": [
                        {
                            "field": "lines[0].quantity",
                            "message": "Input should be greater than or equal to 1",
                        }
                    ],
                    "instance": "/v1/orders",
                }
            ]
        },
    )

    type: str = Field(
        examples=["https://shop.example/problems/validation_error"],
        description="A URI naming the kind of problem (``about:blank`` when it has no code)",
    )
    title: str = Field(description="A short summary of the kind of problem")
    status: int = Field(ge=400, le=599, description="The HTTP status of the answer")
    detail: str | None = Field(default=None, description="What went wrong this time, for people")
    code: str | None = Field(
        default=None,
        examples=["validation_error"],
        description="A stable machine-readable name of the problem (``validation_error``, ``sold_out``, ...)",
    )
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="With 422 (and some 409s): each thing wrong with the request and where"
    )
    instance: str | None = Field(
        default=None, examples=["/v1/orders"], description="The path of the request that failed"
    )
