import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: extra threads only fight over the shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
