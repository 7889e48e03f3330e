"""A small market graph: built and walked for every /api/graph request."""

import random
from collections import deque


def build_graph(nodes, edges_per_node, seed):
    rng = random.Random(seed)  # noqa: S311 - a test graph, not a secret
    adjacency = {node: set() for node in range(nodes)}
    for node in range(1, nodes):
        # A spanning tree first keeps the graph connected; the extra edges make it a real graph.
        parent = rng.randrange(node)
        adjacency[node].add(parent)
        adjacency[parent].add(node)
    for node in range(nodes):
        for _edge in range(edges_per_node):
            other = rng.randrange(nodes)
            if other != node:
                adjacency[node].add(other)
                adjacency[other].add(node)
    return adjacency


def walk(adjacency, start=0):
    """Breadth-first walk: reached node count, edge count and eccentricity of the start node."""
    depth = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for other in adjacency[node]:
            if other not in depth:
                depth[other] = depth[node] + 1
                queue.append(other)
    edges = sum(len(neighbours) for neighbours in adjacency.values()) // 2
    return {"nodes": len(depth), "edges": edges, "depth": max(depth.values())}
