"""bridge.php_serialize against PHP's own serialize(): generated values (unicode up to
astral characters, NULs and quotes, binary strings, nested lists and maps with PHP's key
rules, int and float edges, objects with public, protected and private properties, enum
cases, Laravel's ModelIdentifier) are serialized by PHP (tests/laravel/serialize.php, one
process, a batch of values per call) and must read back as the value described."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from bridge.eloquent import MODEL_IDENTIFIER
from bridge.php_serialize import (
    PhpCustomObject,
    PhpEnum,
    PhpObject,
    PhpProperty,
    PhpSerializeError,
    loads,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.laravel import PhpSerializer, require_php

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
CLASS_NAMES = ("App\\Jobs\\SendSmsJob", "Relay\\Gen\\Événement", "Plain", "App\\Models\\User")
Example = tuple[Any, Any]  # (the spec serialize.php builds from, the value loads() must give)


@pytest.fixture(scope="module")
def php() -> Iterator[PhpSerializer]:
    require_php()
    serializer = PhpSerializer()
    yield serializer
    serializer.close()


def php_key(key: int | str) -> int | str:
    """The key PHP stores for `$array[$key]`: a canonical decimal integer string is an int."""
    canonical = isinstance(key, str) and re.fullmatch(r"-?[1-9][0-9]*|0", key)
    return int(key) if canonical and INT64_MIN <= int(key) <= INT64_MAX else key


def as_php_array(pairs: list[tuple[int | str, Any]]) -> Any:
    array: dict[int | str, Any] = {}
    for key, value in pairs:
        array[php_key(key)] = value
    return list(array.values()) if list(array) == list(range(len(array))) else array


def float_example(number: float) -> Example:
    if math.isnan(number):
        return {"$float": "NAN"}, number
    if math.isinf(number):
        return {"$float": "INF" if number > 0 else "-INF"}, number
    return number, number


def bytes_example(raw: bytes) -> Example:
    try:
        expected: str | bytes = raw.decode("utf-8")
    except UnicodeDecodeError:
        expected = raw
    return {"$bytes": base64.b64encode(raw).decode()}, expected


def model_example(key: int | str) -> Example:
    spec = {"$model": {"class": "App\\Models\\User", "id": key}}
    expected = PhpObject(
        MODEL_IDENTIFIER,
        {
            "class": PhpProperty("App\\Models\\User", "public"),
            "id": PhpProperty(key, "public"),
            "relations": PhpProperty([], "public"),
            "connection": PhpProperty(None, "public"),
        },
    )
    return spec, expected


texts = st.text(st.characters(codec="utf-8"), max_size=30)
scalars: st.SearchStrategy[Example] = st.one_of(
    st.none().map(lambda _: (None, None)),
    st.booleans().map(lambda flag: (flag, flag)),
    st.integers(INT64_MIN, INT64_MAX).map(lambda number: (number, number)),
    st.sampled_from([INT64_MIN, INT64_MAX, 0, -1]).map(lambda number: (number, number)),
    st.floats().map(float_example),
    st.sampled_from([0.1, -0.0, 1e25, 5e-324, 1.7976931348623157e308, 1 / 3]).map(float_example),
    texts.map(lambda text: (text, text)),
    st.binary(max_size=20).map(bytes_example),
    st.sampled_from(["Hearts", "Spades"]).map(
        lambda case: ({"$enum": case}, PhpEnum("Relay\\Fixture\\Suit", case))
    ),
    st.one_of(st.integers(0, 10**6), st.text(max_size=8)).map(model_example),
)
keys = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(-3, 5),
    st.sampled_from(["0", "5", "05", "-0", "-7", "1.5", "9223372036854775808", ""]),
    st.text(max_size=8),
)
property_names = st.text(
    st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=10
)


def containers(children: st.SearchStrategy[Example]) -> st.SearchStrategy[Example]:
    lists = st.lists(children, max_size=5).map(
        lambda items: ([spec for spec, _ in items], [value for _, value in items])
    )
    maps = st.lists(st.tuples(keys, children), max_size=5).map(
        lambda pairs: (
            {"$map": [[key, spec] for key, (spec, _) in pairs]},
            as_php_array([(key, value) for key, (_, value) in pairs]),
        )
    )
    visibility = st.sampled_from(["public", "protected", "private", "parent-private"])
    props = st.lists(
        st.tuples(visibility, property_names, children), max_size=5, unique_by=lambda p: p[1]
    )
    objects = st.tuples(st.sampled_from(CLASS_NAMES), props).map(object_example)
    return st.one_of(lists, maps, objects)


def object_example(shape: tuple[str, list[tuple[str, str, Example]]]) -> Example:
    class_name, props = shape
    specs, expected = [], PhpObject(class_name)
    for visibility, name, (spec, value) in props:
        if visibility == "parent-private":
            specs.append(["private", name, spec, "Relay\\Parent"])
            expected.properties[name] = PhpProperty(value, "private", "Relay\\Parent")
        else:
            specs.append([visibility, name, spec])
            declaring = class_name if visibility == "private" else None
            expected.properties[name] = PhpProperty(value, visibility, declaring)  # type: ignore[arg-type]
    return {"$object": class_name, "props": specs}, expected


values = st.recursive(scalars, containers, max_leaves=20)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(batch=st.lists(values, min_size=1, max_size=25))
def test_reads_what_php_serialize_writes(php: PhpSerializer, batch: list[Example]) -> None:
    serialized = php.serialize_many([spec for spec, _ in batch])
    for data, (_, expected) in zip(serialized, batch, strict=True):
        # repr, not ==: NaN equals nothing, -0.0 equals 0.0, and the order must match too.
        assert repr(loads(data)) == repr(expected), data


@SETTINGS
@given(
    batch=st.lists(values, min_size=1, max_size=10),
    where=st.floats(0, 1, exclude_max=True),
)
def test_every_truncation_of_php_output_is_a_clear_error(
    php: PhpSerializer, batch: list[Example], where: float
) -> None:
    for serialized in php.serialize_many([spec for spec, _ in batch]):
        cut = int(where * len(serialized))
        with pytest.raises(PhpSerializeError) as raised:
            loads(serialized[:cut])
        assert 0 <= raised.value.offset <= cut


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_read_or_refused_never_crash(garbage: bytes) -> None:
    try:
        loads(garbage)
    except PhpSerializeError as error:
        assert f"at byte {error.offset}" in str(error)


def test_private_and_protected_names_as_php_mangles_them(php: PhpSerializer) -> None:
    (data,) = php.serialize_many(
        [{"$natural": {"name": "Ada", "balance": 1.5, "pin": 1234, "parentPin": 9}}]
    )
    account = loads(data)
    assert account.class_name == "Relay\\Fixture\\Account"
    assert account.properties["name"] == PhpProperty("Ada", "public")
    assert account.properties["balance"] == PhpProperty(1.5, "protected")
    # The parent's private $pin is written too; the object's own $pin is the one it sees.
    assert account.properties["pin"] == PhpProperty(1234, "private", "Relay\\Fixture\\Account")
    assert account.get("pin") == 1234


def test_object_references_are_the_same_object(php: PhpSerializer) -> None:
    shared = {"$shared": "o", "value": {"$object": "App\\Models\\User", "props": []}}
    (data,) = php.serialize_many([[shared, shared, {"$shared": "o", "value": None}]])
    assert b"r:2;" in data
    first, second, third = loads(data)
    assert first is second is third
    assert first.class_name == "App\\Models\\User"


def test_php_references_resolve_to_the_shared_value(php: PhpSerializer) -> None:
    alias = {"$alias": "x", "value": ["a", {"$enum": "Hearts"}]}
    (data,) = php.serialize_many([[1, alias, alias]])
    assert b"R:3;" in data
    found = loads(data)
    assert found == [
        1,
        ["a", PhpEnum("Relay\\Fixture\\Suit", "Hearts")],
        ["a", PhpEnum("Relay\\Fixture\\Suit", "Hearts")],
    ]
    assert found[1] is found[2]


def test_custom_serialized_objects_keep_their_payload(php: PhpSerializer) -> None:
    (data,) = php.serialize_many([{"$custom": 'x:"y";{}é'}])
    assert loads(data) == PhpCustomObject("Relay\\Fixture\\Custom", 'x:"y";{}é'.encode())


def test_an_object_referring_to_itself_is_a_cycle_of_the_same_object() -> None:
    # As PHP 8.2 writes `$o = new stdClass; $o->self = $o; $o->list = [$o];`
    found = loads(b'O:8:"stdClass":2:{s:4:"self";r:1;s:4:"list";a:1:{i:0;r:1;}}')
    assert found.get("self") is found
    assert found.get("list")[0] is found


@pytest.mark.parametrize(
    ("data", "offset", "problem"),
    [
        (b"", 0, "expected a value"),
        (b"x:1;", 0, "expected a value"),
        (b"i:12", 2, "expected an integer and ';'"),
        (b"i:99999999999999999999;", 2, "expected an integer"),
        (b"i:9223372036854775808;", 2, "out of PHP's 64-bit range"),
        (b"b:2;", 2, "0 or 1"),
        (b"d:1,5;", 2, "expected a float"),
        (b"d:infinity;", 2, "expected a float"),
        (b's:5:"abc";', 10, "closing the string of 5 bytes"),
        (b's:3:"abcd";', 8, "closing the string of 3 bytes"),
        (b's:99999999999:"', 15, "runs past the end"),
        (b's:-1:"";', 2, "a length in bytes"),
        (b"a:2:{i:0;i:1;}", 13, "fewer members than it announced"),
        (b"a:1:{i:0;i:1;i:1;i:2;}", 13, "expected '}' closing the array"),
        (b"a:99999999999:{", 15, "members cannot fit"),
        (b"a:1:{d:0.5;i:1;}", 5, "expected a key"),
        (b"N;N;", 2, "2 bytes after the value"),
        (b"r:1;", 0, "only 0 were read"),
        (b"a:2:{i:0;i:1;i:1;r:2;}", 17, "points at a non-object"),
        (b"a:2:{i:0;i:1;i:1;a:2:{i:0;i:1;i:1;R:3;}}", 34, "from inside itself (a cycle)"),
        (b'E:4:"Suit";', 0, "is not 'Class:Case'"),
        (b'O:3:"Foo":1:{s:4:"\x00*\x00a";s:9:"abc', 29, "runs past the end"),
    ],
)
def test_malformed_input_names_the_offset_and_what_was_expected(
    data: bytes, offset: int, problem: str
) -> None:
    with pytest.raises(PhpSerializeError) as raised:
        loads(data)
    assert raised.value.offset == offset, str(raised.value)
    assert problem in str(raised.value)


def test_an_error_inside_a_job_names_its_class_and_property() -> None:
    data = (
        b'O:19:"App\\Jobs\\SendSmsJob":2:{s:9:"\x00*\x00userId";i:1;s:8:"\x00*\x00phone";s:16:"+241'
    )
    with pytest.raises(PhpSerializeError) as raised:
        loads(data)
    assert raised.value.class_name == "App\\Jobs\\SendSmsJob"
    assert raised.value.property_name == "phone"
    assert "in App\\Jobs\\SendSmsJob > phone" in str(raised.value)


def test_deep_nesting_is_refused_without_recursion() -> None:
    depth = 20_000
    data = b"a:1:{i:0;" * depth + b"N;" + b"}" * depth
    with pytest.raises(PhpSerializeError, match="nested deeper than 128 levels"):
        loads(data)
    assert loads(data, max_depth=depth + 1) is not None  # no RecursionError either way


def test_nesting_up_to_the_limit_is_read() -> None:
    data = b"a:1:{i:0;" * 128 + b"i:7;" + b"}" * 128
    value = loads(data)
    for _ in range(128):
        value = value[0]
    assert value == 7
