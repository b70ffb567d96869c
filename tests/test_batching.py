import numpy as np

from molmtd.batching import ResumableBatchSampler


def _epoch(sampler, epoch):
    sampler.set_epoch(epoch)
    return [b.tolist() for b in sampler]


def test_each_epoch_is_a_new_seeded_permutation_covering_all():
    s = ResumableBatchSampler(np.arange(10, 30), batch_size=6, seed=3)
    e0, e1 = _epoch(s, 0), _epoch(s, 1)
    assert sorted(sum(e0, [])) == list(range(10, 30))
    assert sorted(sum(e1, [])) == list(range(10, 30))
    assert e0 != e1
    assert _epoch(ResumableBatchSampler(np.arange(10, 30), 6, seed=3), 0) == e0
    assert [len(b) for b in e0] == [6, 6, 6, 2] and len(s) == 4


def test_resume_skips_consumed_batches_of_the_saved_epoch():
    s = ResumableBatchSampler(np.arange(50), batch_size=8, seed=0)
    full = _epoch(s, 2)
    s2 = ResumableBatchSampler(np.arange(50), batch_size=8, seed=0)
    s2.load_state_dict({"epoch": 2, "consumed": 3, "seed": 0})
    s2.set_epoch(2)
    assert [b.tolist() for b in s2] == full[3:]
    # the next epoch is whole again
    assert len(_epoch(s2, 3)) == len(full)


def test_ranks_partition_batches():
    idx = np.arange(40)
    parts = [_epoch(ResumableBatchSampler(idx, 5, seed=1, rank=r, world_size=3), 0)
             for r in range(3)]
    flat = sorted(sum(sum(parts, []), []))
    assert flat == list(range(40))
    assert [len(p) for p in parts] == [3, 3, 2]


def test_no_shuffle_keeps_order_and_drop_last():
    s = ResumableBatchSampler(np.arange(7), batch_size=3, shuffle=False, drop_last=True)
    assert _epoch(s, 5) == [[0, 1, 2], [3, 4, 5]]


def test_equal_batches_gives_every_rank_the_same_count():
    # DDP: a rank with one batch more would wait forever in the gradient all-reduce
    idx = np.arange(40)
    parts = [_epoch(ResumableBatchSampler(idx, 5, seed=1, rank=r, world_size=3,
                                          equal_batches=True), 0) for r in range(3)]
    assert [len(p) for p in parts] == [2, 2, 2]
    flat = sum(sum(parts, []), [])
    assert len(flat) == len(set(flat)) == 30
    one = ResumableBatchSampler(idx, 5, seed=1, equal_batches=True)
    assert sorted(sum(_epoch(one, 0), [])) == list(range(40))  # one rank: nothing left out
