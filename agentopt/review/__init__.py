"""Reading a run back: what it tried, what won, where each candidate came from.

`RunView` loads a run directory; `leaderboard`, `lineage` and `diff` answer the questions of `agentopt show`
and `agentopt report`."""
from .diff import parent_diff, unified_diff
from .leaderboard import LeaderRow, best_over_time, best_per_shape, leaderboard
from .lineage import ancestry, tree_layout
from .run_view import RunView, shape_key

__all__ = ["RunView", "shape_key", "LeaderRow", "leaderboard", "best_per_shape", "best_over_time", "ancestry",
           "tree_layout", "unified_diff", "parent_diff"]
