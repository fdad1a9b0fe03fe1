"""Make `ansible_collections.squirrel.ssm` importable when pytest runs from the repository itself
(ansible-test sets this up on its own)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import ansible_collections.squirrel.ssm  # noqa: F401  pylint: disable=unused-import
except ImportError:
    tree = os.path.join(ROOT, 'build', 'pytest-tree')
    link = os.path.join(tree, 'ansible_collections', 'squirrel', 'ssm')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    sys.path.insert(0, tree)
