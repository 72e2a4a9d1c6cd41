"""Replies as whole files or SEARCH/REPLACE blocks, matched exactly then with whitespace loosened."""
from agentopt.agents.edits import apply_reply

PARENT = '''import torch
import triton


class ModelNew(torch.nn.Module):
    def __init__(self, hidden, inter):
        super().__init__()
        self.block = 64

    def forward(self, x):
        y = x * 2
        return y + 1
'''


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def test_exact_blocks_apply_in_order():
    reply = ("Bigger blocks and a fused add.\n```python\n"
             + block("        self.block = 64", "        self.block = 128") + "```\n"
             + block("        return y + 1", "        return y.add_(1)"))
    result = apply_reply(reply, PARENT)
    assert result.error is None and result.mode == "edits" and result.applied == [1, 2] and not result.loosened
    assert "self.block = 128" in result.source and "return y.add_(1)" in result.source
    assert result.source.replace("128", "64").replace("y.add_(1)", "y + 1") == PARENT


def test_trailing_spaces_and_blank_lines_around_search_are_tolerated():
    parent = PARENT.replace("y = x * 2\n", "y = x * 2   \n")
    result = apply_reply(block("\n        y = x * 2\n", "        y = x * 3"), parent)
    assert result.error is None and result.loosened == [1]
    assert "y = x * 3\n" in result.source and "x * 2" not in result.source


def test_indentation_differences_are_tolerated_and_the_replacement_reindented():
    search = "def forward(self, x):\n    y = x * 2\n    return y + 1"
    replace = "def forward(self, x):\n    if x.shape[0] == 1:\n        return x * 2 + 1\n    return x * 2 + 1"
    result = apply_reply(block(search, replace), PARENT)
    assert result.error is None and result.loosened == [1]
    assert ("    def forward(self, x):\n        if x.shape[0] == 1:\n            return x * 2 + 1\n"
            "        return x * 2 + 1\n") in result.source
    compile(result.source, "candidate", "exec")


def test_a_block_that_does_not_match_names_itself_the_closest_lines_and_what_applied():
    reply = (block("        self.block = 64", "        self.block = 32")
             + block("    def forward(self, inp):\n        y = inp * 2",
                     "    def forward(self, inp):\n        y = inp"))
    result = apply_reply(reply, PARENT)
    assert result.source is None and result.applied == [1]
    assert "block 2 did not match" in result.error
    assert "def forward(self, inp):" in result.error  # its SEARCH part, quoted back
    assert "closest lines in the code (lines 10-11" in result.error and "def forward(self, x):" in result.error
    assert "Blocks applied: 1 of 2" in result.error


def test_a_search_matching_two_places_is_refused_with_the_lines():
    parent = PARENT + "\n\ndef helper(x):\n    y = x * 2\n    return y\n"
    result = apply_reply(block("y = x * 2", "y = x * 4"), parent)
    assert result.source is None and "matches 2 places" in result.error and "lines 11, 16" in result.error


def test_a_whole_file_reply_is_taken_as_is():
    new = PARENT.replace("x * 2", "x + x")
    result = apply_reply(f"Here it is:\n```python\n{new}```\nDone.", PARENT)
    assert result.mode == "whole" and result.source == new and result.error is None


def test_a_reply_without_code_is_an_error_saying_so():
    result = apply_reply("I think you should use a bigger block size.", PARENT)
    assert result.source is None and result.error.startswith("the reply holds no code")
    assert apply_reply("```python\nprint('no model here')\n```", None).error.startswith("the reply holds no code")


def test_an_unclosed_block_and_blocks_without_a_parent_are_explained():
    unclosed = apply_reply("<<<<<<< SEARCH\n        self.block = 64\n=======\n        self.block = 8\n", PARENT)
    assert "block 1 is not closed" in unclosed.error and unclosed.source is None
    orphan = apply_reply(block("a", "b"), None)
    assert "no parent to edit" in orphan.error


def test_a_reply_that_changes_nothing_is_an_error():
    assert apply_reply(block("        self.block = 64", "        self.block = 64"), PARENT).error == \
        "the reply leaves the parent's code unchanged"
