import gc

from f2f_site import collector


def test_it_freezes_what_is_loaded_and_collects_less_often():
    thresholds = gc.get_threshold()
    try:
        collector.settle()
        assert gc.get_threshold() == collector.THRESHOLDS
        assert gc.get_freeze_count() > 0 and gc.get_count()[0] < 100
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
