"""The Merkle tree against RFC 6962's published test vectors and against its own definition."""

from __future__ import annotations

import hashlib
import random

import pytest

from services.audit.merkle import (
    EMPTY_ROOT,
    InclusionVerifier,
    consistency_ranges,
    fold,
    inclusion_paths,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    root_of,
    stored_nodes,
    verify_consistency,
    verify_inclusion,
)

# RFC 6962 / certificate-transparency reference data: eight leaves and the root of each prefix.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        *("", "00", "10", "2021", "3031", "40414243"),
        *("5051525354555657", "606162636465666768696a6b6c6d6e6f"),
    )
]
LEAVES = [leaf_hash(data) for data in LEAF_INPUTS]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path)
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (first size, second size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


class StoredTree:
    """What the service stores: the root of every complete aligned subtree."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        for index, leaf in enumerate(leaves):
            self.nodes[(0, index)] = leaf
            level, position, digest = 0, index, leaf
            while position & 1:
                digest = node_hash(self.nodes[(level, position - 1)], digest)
                level, position = level + 1, position >> 1
                self.nodes[(level, position)] = digest

    def range_hash(self, start: int, end: int) -> bytes:
        return fold([self.nodes[key] for key in stored_nodes(start, end)])


def test_hashing_uses_distinct_leaf_and_node_prefixes() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert EMPTY_ROOT.hex() == ROOTS[0]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_rfc6962(size: int) -> None:
    assert root_of(LEAVES[:size]).hex() == ROOTS[size]
    if size:
        assert StoredTree(LEAVES[:size]).range_hash(0, size).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_inclusion_proofs_match_rfc6962(index: int, size: int, expected: list[str]) -> None:
    tree = StoredTree(LEAVES[:size])
    proof = [tree.range_hash(a, b) for a, b in inclusion_ranges(index, size)]

    assert [p.hex() for p in proof] == expected
    root = bytes.fromhex(ROOTS[size])
    assert verify_inclusion(index, size, LEAVES[index], proof, root)
    assert not verify_inclusion(index, size, LEAVES[index - 1], proof, root)
    assert not verify_inclusion(index, size, LEAVES[index], proof, bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second", "expected"), CONSISTENCY)
def test_consistency_proofs_match_rfc6962(first: int, second: int, expected: list[str]) -> None:
    tree = StoredTree(LEAVES[:second])
    proof = [tree.range_hash(a, b) for a, b in consistency_ranges(first, second)]

    assert [p.hex() for p in proof] == expected
    old, new = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert verify_consistency(first, second, proof, old, new)
    if first != second:
        assert not verify_consistency(first, second, proof, bytes.fromhex(ROOTS[first - 1]), new)
        assert not verify_consistency(first, second, proof[:-1], old, new)


def test_the_bottom_up_paths_name_the_same_ranges_as_the_rfc_recursion() -> None:
    rng = random.Random(9162)
    for size in range(1, 130):
        # all leaves in order (suffixes shared), in a random order, and one at a time
        orders = [list(range(size)), rng.sample(range(size), size)]
        batches = [inclusion_paths(order, size) for order in orders]
        batches.append({index: inclusion_paths([index], size)[index] for index in range(size)})
        for paths in batches:
            for index in range(size):
                ranges = [
                    (start, size) if level < 0 else (start << level, (start + 1) << level)
                    for level, start in paths[index]
                ]
                assert ranges == inclusion_ranges(index, size), (index, size)
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_paths([3], 3)


def test_every_proof_of_every_shape_verifies_and_tampering_does_not() -> None:
    rng = random.Random(6962)
    leaves = [leaf_hash(rng.randbytes(rng.randint(0, 40))) for _ in range(70)]
    tree = StoredTree(leaves)
    for size in range(1, len(leaves) + 1):
        root = root_of(leaves[:size])
        assert tree.range_hash(0, size) == root
        for index in range(size):
            proof = [tree.range_hash(a, b) for a, b in inclusion_ranges(index, size)]
            assert verify_inclusion(index, size, leaves[index], proof, root)
            assert not verify_inclusion(index, size, leaf_hash(b"forged"), proof, root)
            if proof:
                assert not verify_inclusion(index, size, leaves[index], proof[:-1], root)
        for first in range(1, size + 1):
            proof = [tree.range_hash(a, b) for a, b in consistency_ranges(first, size)]
            old = root_of(leaves[:first])
            assert verify_consistency(first, size, proof, old, root)
            if first < size:
                assert not verify_consistency(first, size, proof, leaf_hash(b"x"), root)


@pytest.mark.parametrize("size", [1, 2, 5, 8, 13, 64, 100])
def test_the_remembering_verifier_agrees_with_the_plain_one(size: int) -> None:
    rng = random.Random(size)
    leaves = [leaf_hash(rng.randbytes(8)) for _ in range(size)]
    tree = StoredTree(leaves)
    root = tree.range_hash(0, size)
    proofs = [[tree.range_hash(a, b).hex() for a, b in inclusion_ranges(i, size)] for i in range(size)]

    every = InclusionVerifier(size, root)
    assert [every.verify(i, leaves[i], proofs[i]) for i in range(size)] == [None] * size
    sparse = InclusionVerifier(size, root)
    assert all(sparse.verify(i, leaves[i], proofs[i]) is None for i in range(0, size, 3))

    for victim in range(size):  # a forged leaf fails wherever it sits, after any honest prefix
        checker = InclusionVerifier(size, root)
        for i in range(victim):
            assert checker.verify(i, leaves[i], proofs[i]) is None
        assert checker.verify(victim, leaf_hash(b"forged"), proofs[victim]) is not None
    wrong_root = InclusionVerifier(size, leaf_hash(b"not the root"))
    assert wrong_root.verify(0, leaves[0], proofs[0]) is not None
    assert InclusionVerifier(size, root).verify(size, leaves[0], proofs[0]) is not None
