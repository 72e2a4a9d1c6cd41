"""The adversarial corpus on a CUDA GPU (bf16, GPU shapes): side streams, patched synchronize, an illegal
address, a hung kernel, and honest candidates, the Triton FFN's speedup per shape printed (run with -s)."""
import pytest

from test_corpus import cases

pytestmark = pytest.mark.gpu
GPU_CASES = [c for c in cases.CASES if c.device == "cuda"]


@pytest.fixture(scope="module")
def evaluators():
    pool = cases.Evaluators()
    yield pool
    pool.close()


@pytest.mark.parametrize("case", cases.params(GPU_CASES))
def test_gpu_case_gets_its_verdict(case, evaluators):
    evaluation = evaluators.judge(case)
    if evaluation.status == "ok":
        for s in evaluation.shapes:
            print(f"{case.file} {s.shape}: {s.time_ms:.4f} ms vs eager {s.baseline_ms:.4f} ms, "
                  f"speedup {s.speedup:.2f}x")
        print(f"{case.file}: score {evaluation.score:.3f} in {evaluation.seconds:.1f} s")
    cases.assert_verdict(case, evaluation)
