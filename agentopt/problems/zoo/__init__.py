"""The zoo: each entry is a KernelBench-format file beside this one plus its shapes and dtype."""

_TOKENS = [1, 16, 64, 128, 1024, 4096]

ZOO: dict[str, dict] = {
    "llama3-8b-ffn": {
        "file": "llama3_8b_ffn.py",
        "description": "Llama-3-8B MLP: down(silu(gate(x)) * up(x)), hidden 4096, intermediate 14336, bf16",
        "shapes": [{"M": m} for m in _TOKENS],
        "cpu_shapes": [{"M": 1, "HIDDEN": 64, "INTERMEDIATE": 224}, {"M": 16, "HIDDEN": 64, "INTERMEDIATE": 224},
                       {"M": 33, "HIDDEN": 128, "INTERMEDIATE": 96}],
        "dtype": "bfloat16",
        "shape_keys": ["M"],
    },
    "llama3-8b-rmsnorm": {
        "file": "llama3_8b_rmsnorm.py",
        "description": "Llama-3-8B RMSNorm over hidden 4096, eps 1e-5, bf16",
        "shapes": [{"M": m} for m in _TOKENS],
        "cpu_shapes": [{"M": 1, "HIDDEN": 256}, {"M": 7, "HIDDEN": 256}, {"M": 16, "HIDDEN": 100}],
        "dtype": "bfloat16",
        "shape_keys": ["M"],
    },
    "softmax": {
        "file": "softmax.py",
        "description": "row softmax, rows x 32768 columns, bf16",
        "shapes": [{"M": m, "N": 32768} for m in (1, 64, 1024, 4096)],
        "cpu_shapes": [{"M": 1, "N": 256}, {"M": 9, "N": 300}],
        "dtype": "bfloat16",
        "shape_keys": ["M"],
    },
    "llama3-8b-rope": {
        "file": "llama3_8b_rope.py",
        "description": "Llama-3-8B rotary embedding on queries, 32 heads x 128, theta 500000, bf16",
        "shapes": [{"M": m} for m in _TOKENS],
        "cpu_shapes": [{"M": 1, "HEADS": 4, "HEAD_DIM": 16}, {"M": 5, "HEADS": 4, "HEAD_DIM": 16}],
        "dtype": "bfloat16",
        "shape_keys": ["M"],
    },
}
