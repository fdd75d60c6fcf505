import pytest


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread per module: the machine is shared and tiny tensors gain nothing from threads."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
