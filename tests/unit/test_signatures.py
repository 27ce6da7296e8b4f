"""Signed requirements and decisions: the rules both the workflow and the publisher apply."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from services.kit.tokens import (
    DECISION_TYPE,
    REQUIREMENT_TYPE,
    SignatureError,
    SigningKey,
    load_or_create_signing_key,
    sign_record,
)
from workflows.signatures import (
    MEANINGS,
    Requirement,
    SignedDecision,
    SignedStage,
    approval_problems,
    decision_claims,
    read_decision,
    read_requirement,
    requirement_claims,
)

HASH = "c" * 64
REQUIREMENT = Requirement(
    draft_id="d1",
    version=2,
    content_hash=HASH,
    author_id="author",
    policy_version="p1",
    stages=(SignedStage("compliance", ("compliance",)), SignedStage("legal", ("legal",))),
    blocking_unresolved=0,
)


def approval(stage: str, signer: str, roles: tuple[str, ...], **changes: object) -> SignedDecision:
    decision = SignedDecision(
        draft_id="d1", version=2, content_hash=HASH, stage=stage, decision="approve",
        meaning=MEANINGS["approve"], signer_id=signer, signer_name=signer.title(), signer_roles=roles,
        signer_active=True, signed_at="2026-11-23T10:00:00+00:00", reason="",
    )  # fmt: skip
    return dataclasses.replace(decision, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_or_create_signing_key(tmp_path_factory.mktemp("keys") / "review.pem")


def roundtrip(key: SigningKey, decisions: list[SignedDecision]) -> list[str]:
    keys = {key.kid: key.public_jwk}
    requirement = read_requirement(
        sign_record(key, requirement_claims(REQUIREMENT), typ=REQUIREMENT_TYPE), keys
    )
    signed = [read_decision(sign_record(key, decision_claims(d), typ=DECISION_TYPE), keys) for d in decisions]
    return approval_problems(requirement, signed)


def test_distinct_authorized_signers_approve(key: SigningKey) -> None:
    assert (
        roundtrip(
            key, [approval("compliance", "carol", ("compliance",)), approval("legal", "leo", ("legal",))]
        )
        == []
    )


@pytest.mark.parametrize(
    ("decisions", "problem"),
    [
        ([approval("compliance", "carol", ("compliance",))], "legal: no signed approval"),
        (
            [approval("compliance", "author", ("compliance",)), approval("legal", "leo", ("legal",))],
            "author of a draft",
        ),
        (
            [
                approval("compliance", "dana", ("compliance", "legal")),
                approval("legal", "dana", ("compliance", "legal")),
            ],
            "one person signed more than one stage",
        ),
        (
            [approval("compliance", "carol", ("compliance",)), approval("legal", "mia", ("medical",))],
            "does not hold a role",
        ),
        (
            [
                approval("compliance", "carol", ("compliance",), content_hash="d" * 64),
                approval("legal", "leo", ("legal",)),
            ],
            "other content",
        ),
        (
            [
                approval(
                    "compliance", "carol", ("compliance",), decision="reject", meaning=MEANINGS["reject"]
                ),
                approval("legal", "leo", ("legal",)),
            ],
            "not approve",
        ),
        (
            [
                approval("compliance", "carol", ("compliance",), signer_active=False),
                approval("legal", "leo", ("legal",)),
            ],
            "not an active user",
        ),
    ],
)
def test_incomplete_or_invalid_sets_are_refused(
    key: SigningKey, decisions: list[SignedDecision], problem: str
) -> None:
    problems = roundtrip(key, decisions)
    assert any(problem in p for p in problems), problems


def test_forged_and_misused_records_do_not_verify(key: SigningKey, tmp_path: Path) -> None:
    keys = {key.kid: key.public_jwk}
    other = load_or_create_signing_key(tmp_path / "other.pem")
    forged = dataclasses.replace(other, kid=key.kid)
    claims = decision_claims(approval("legal", "leo", ("legal",)))
    with pytest.raises(SignatureError, match="does not verify"):
        read_decision(sign_record(forged, claims, typ=DECISION_TYPE), keys)
    with pytest.raises(SignatureError, match="unknown key"):
        read_decision(sign_record(other, claims, typ=DECISION_TYPE), keys)
    with pytest.raises(SignatureError, match="not a"):
        read_requirement(sign_record(key, claims, typ=DECISION_TYPE), keys)
    with pytest.raises(SignatureError, match="meaning"):
        read_decision(sign_record(key, {**claims, "meaning": "whatever"}, typ=DECISION_TYPE), keys)
    token = sign_record(key, claims, typ=DECISION_TYPE)
    header, payload, signature = token.split(".")
    tampered_payload = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SignatureError):
        read_decision(f"{header}.{tampered_payload}.{signature}", keys)


def test_a_requirement_of_no_stages_approves_nothing(key: SigningKey) -> None:
    empty = dataclasses.replace(REQUIREMENT, stages=())
    token = sign_record(key, requirement_claims(empty), typ=REQUIREMENT_TYPE)

    with pytest.raises(SignatureError, match="no stage"):
        read_requirement(token, {key.kid: key.public_jwk})
    assert any("no stage" in p for p in approval_problems(empty, []))


def test_unresolved_blocking_findings_refuse_publication(key: SigningKey) -> None:
    keys = {key.kid: key.public_jwk}
    blocked = dataclasses.replace(REQUIREMENT, blocking_unresolved=2)
    requirement = read_requirement(sign_record(key, requirement_claims(blocked), typ=REQUIREMENT_TYPE), keys)
    decisions = [approval("compliance", "carol", ("compliance",)), approval("legal", "leo", ("legal",))]
    signed = [read_decision(sign_record(key, decision_claims(d), typ=DECISION_TYPE), keys) for d in decisions]
    assert any("blocking" in p for p in approval_problems(requirement, signed))


def test_a_retired_key_vouches_only_for_what_it_signed_before_its_retirement(key: SigningKey) -> None:
    """Attack: a retired review key leaks and signs fresh approvals (or a requirement with no date)."""
    retired_at = 1_795_000_000  # 2026-11-18T11:06:40Z
    keys = {key.kid: {**key.public_jwk, "retired_at": retired_at}}
    before = approval("legal", "leo", ("legal",), signed_at="2026-11-18T00:00:00+00:00")
    after = approval("legal", "leo", ("legal",), signed_at="2026-11-30T00:00:00+00:00")

    assert read_decision(sign_record(key, decision_claims(before), typ=DECISION_TYPE), keys) == before
    with pytest.raises(SignatureError, match="after its retirement"):
        read_decision(sign_record(key, decision_claims(after), typ=DECISION_TYPE), keys)
    undated = sign_record(key, requirement_claims(REQUIREMENT), typ=REQUIREMENT_TYPE)
    with pytest.raises(SignatureError, match="no signing time"):
        read_requirement(undated, keys)
    dated = dataclasses.replace(REQUIREMENT, signed_at="2026-11-17T09:00:00+00:00")
    assert read_requirement(sign_record(key, requirement_claims(dated), typ=REQUIREMENT_TYPE), keys) == dated


def test_a_quorum_stage_needs_that_many_distinct_signers(key: SigningKey) -> None:
    keys = {key.kid: key.public_jwk}
    quorum = dataclasses.replace(REQUIREMENT, stages=(SignedStage("compliance", ("compliance",), 2),))
    token = sign_record(key, requirement_claims(quorum), typ=REQUIREMENT_TYPE)
    requirement = read_requirement(token, keys)
    assert requirement.stages[0].quorum == 2
    carol, cody = (
        approval("compliance", "carol", ("compliance",)),
        approval("compliance", "cody", ("compliance",)),
    )
    assert approval_problems(requirement, [carol]) == ["compliance: 1 of the 2 approvals it needs"]
    assert approval_problems(requirement, [carol, cody]) == []
    assert "one person signed more than one stage" in approval_problems(requirement, [carol, carol])
    # A stage of one approval is signed exactly as before quorums existed.
    assert "quorum" not in requirement_claims(REQUIREMENT)["stages"][0]


def test_a_decision_names_how_its_signer_authenticated(key: SigningKey) -> None:
    keys = {key.kid: key.public_jwk}
    by_password = read_decision(
        sign_record(key, decision_claims(approval("legal", "lee", ("legal",))), typ=DECISION_TYPE), keys
    )
    assert by_password.auth_method == "password" and by_password.auth_amr == ()
    through_idp = approval(
        "legal", "lee", ("legal",), auth_method="oidc", auth_acr="urn:mfa", auth_amr=("pwd", "otp"),
        auth_time="2026-11-23T09:59:30+00:00",
    )  # fmt: skip
    claims = decision_claims(through_idp)
    assert claims["auth_method"] == "oidc" and claims["auth_amr"] == ["pwd", "otp"]
    read = read_decision(sign_record(key, claims, typ=DECISION_TYPE), keys)
    assert (read.auth_method, read.auth_acr, read.auth_amr) == ("oidc", "urn:mfa", ("pwd", "otp"))
    # A record signed before the method was named reads as a password signature.
    older = {
        k: v for k, v in decision_claims(approval("legal", "lee", ("legal",))).items() if k != "auth_method"
    }
    assert read_decision(sign_record(key, older, typ=DECISION_TYPE), keys).auth_method == "password"
    with pytest.raises(SignatureError):
        read_decision(sign_record(key, {**claims, "auth_amr": [1]}, typ=DECISION_TYPE), keys)
