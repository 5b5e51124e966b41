"""The MIME message the mailer writes reads, in a mail client, as the one Python's email package would build: the
same headers, subject and bodies, whatever the language, the server's 8-bit support or the length of the lines."""

from __future__ import annotations

import email
import email.policy
import itertools
from email.message import EmailMessage

import pytest

from shop_notifications.delivery import DeliveryFailed, OutgoingEmail
from shop_notifications.smtp import MAX_LINE_BYTES, compose, from_header

SENDERS = ["Shop <orders@shop.example>", "샵 스토어 <orders@shop.example>"]
SUBJECTS = [
    "[Shop] Your order ord-en has shipped",
    "[Shop] 주문이 확인되었습니다 (주문번호 ord-ko)",
    # Long enough to be folded, with a space at every possible place of a fold.
    "[Shop] 예약 주문의 출고 예정일이 변경되었습니다 (주문번호 eac46e94-657b-4364-9297-33265d930d33)",
    "가 나 다 라 마 바 사 아 자 차 카 타 파 하 " * 6,
    "[Shop] " + "x" * 300,
]
TEXTS = [
    "Hello,\n\nIt shipped.\nTracking number: 6801-2345-6789\n",
    "안녕하세요 김민지님,\n\n총 결제 금액: 39,000원\nhttps://shop.test/orders/ord-1\n",
    "no line break at the end",
    ".a line that starts with a dot\n..and two\n",
    "a line too long for SMTP: " + "y" * 1200 + "\n",
    "한 줄이 너무 깁니다: " + "가" * 400 + "\n",
]


def _outgoing(subject: str, text: str, *, html: bool, one_click: bool) -> OutgoingEmail:
    return OutgoingEmail(
        notification_id="0b7f1c1e-1111-2222-3333-444455556666",
        order_id="ord-1",
        template="order_shipped",
        recipient="minji@example.com",
        locale="ko",
        subject=subject,
        text=text,
        html=f"<p>{text}</p>" if html else None,
        one_click_url="https://shop.test/v1/unsubscribe?token=abc.123.def" if one_click else None,
    )


def _read(raw: bytes) -> EmailMessage:
    # The wire's line endings: aiosmtplib sends every line ending as CRLF.
    message = email.message_from_bytes(
        raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    return message


def _by_the_email_package(outgoing: OutgoingEmail, sender: str) -> EmailMessage:
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["From"] = sender
    message["To"] = outgoing.recipient
    message["Subject"] = outgoing.subject
    message["Message-ID"] = f"<{outgoing.notification_id}@shop.example>"
    message["X-Shop-Notification-Id"] = outgoing.notification_id
    message["X-Shop-Order-Id"] = outgoing.order_id
    message["X-Shop-Template"] = outgoing.template
    if outgoing.one_click_url:
        message["List-Unsubscribe"] = f"<{outgoing.one_click_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(outgoing.text)
    if outgoing.html:
        message.add_alternative(outgoing.html, subtype="html")
    return _read(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))  # as aiosmtplib flattened it


def _as_read(message: EmailMessage) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """What a reader sees: the headers that are not about the MIME structure or the moment, and each part (its
    line endings as a mail client shows them: a base64 body may carry either)."""
    headers = {
        name: str(value)
        for name, value in message.items()
        if name
        not in {"Date", "Content-Language", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"}
    }
    parts = message.iter_parts() if message.is_multipart() else iter([message])
    return headers, [
        (part.get_content_type(), part.get_content().replace("\r\n", "\n"))
        for part in parts
        if isinstance(part, EmailMessage)
    ]


@pytest.mark.parametrize("eight_bit", [True, False], ids=["8bitmime", "7bit-server"])
@pytest.mark.parametrize("sender", SENDERS)
def test_every_email_reads_as_the_email_package_would_write_it(sender: str, eight_bit: bool) -> None:
    different = []
    for subject, text, html, one_click in itertools.product(SUBJECTS, TEXTS, [False, True], [False, True]):
        outgoing = _outgoing(subject, text, html=html, one_click=one_click)
        composed = _read(compose(outgoing, sender=from_header(sender), eight_bit=eight_bit).content)
        if _as_read(composed) != _as_read(_by_the_email_package(outgoing, sender)):
            different.append((subject, text[:30], html, one_click))
    assert not different


def test_the_message_says_its_language_and_what_the_server_must_take() -> None:
    korean = _outgoing(SUBJECTS[1], TEXTS[1], html=True, one_click=False)
    composed = compose(korean, sender=from_header(SENDERS[0]), eight_bit=True)
    assert _read(composed.content)["Content-Language"] == "ko"
    assert composed.mail_options == ("BODY=8BITMIME",)
    # A server without 8BITMIME gets base64 bodies, and an ASCII email needs nothing of the server.
    assert compose(korean, sender=from_header(SENDERS[0]), eight_bit=False).mail_options == ()
    ascii_only = _outgoing(SUBJECTS[0], TEXTS[0], html=True, one_click=False)
    assert compose(ascii_only, sender=from_header(SENDERS[0]), eight_bit=True).mail_options == ()


def test_no_line_of_the_message_is_longer_than_smtp_allows() -> None:
    for text in TEXTS:
        raw = compose(
            _outgoing(SUBJECTS[3], text, html=True, one_click=True), sender="x@y", eight_bit=True
        ).content
        assert max(len(line) for line in raw.splitlines()) <= MAX_LINE_BYTES


def test_a_subject_that_looks_encoded_arrives_as_it_was_written() -> None:
    subject = "[Shop] =?utf-8?q?not_encoded?= literally"
    outgoing = _outgoing(subject, TEXTS[0], html=False, one_click=False)
    assert _read(compose(outgoing, sender="x@y", eight_bit=True).content)["Subject"] == subject


@pytest.mark.parametrize("field", ["recipient", "order_id", "subject"])
def test_a_line_break_in_a_header_value_is_refused_for_good_and_never_starts_a_header(field: str) -> None:
    outgoing = _outgoing(SUBJECTS[0], TEXTS[0], html=False, one_click=False)
    injected = {field: getattr(outgoing, field) + "\r\nBcc: someone@example.com"}
    with pytest.raises(DeliveryFailed) as refused:
        compose(OutgoingEmail(**{**outgoing.__dict__, **injected}), sender="x@y", eight_bit=True)
    assert refused.value.permanent
