#!/usr/bin/env python3
"""M/M/8 (lambda=7.2, mu=1, rho=0.9) in SimPy 2.3.1 (Debian's python3-simpy): the anchor for
BenchmarkMM8 in sim. Same model as the Go benchmark: Poisson arrivals, one 8-server FCFS
resource, exponential service. Prints customers/s and the mean wait (exact: 0.876916).

Usage: python3 mm8.py [customers] [seed]
"""
import random
import sys
import time

from SimPy.Simulation import Process, Resource, activate, hold, initialize, now, release, request, simulate

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 1
LAM, MU, C = 7.2, 1.0, 8
WARMUP = N // 10


class Stats:
    served = 0
    wait_sum = 0.0


class Customer(Process):
    def visit(self, res, index):
        arrive = now()
        yield request, self, res
        if index >= WARMUP:
            Stats.served += 1
            Stats.wait_sum += now() - arrive
        yield hold, self, random.expovariate(MU)
        yield release, self, res


class Source(Process):
    def generate(self, res):
        for i in range(N):
            c = Customer()
            activate(c, c.visit(res, i))
            yield hold, self, random.expovariate(LAM)


def main():
    random.seed(SEED)
    initialize()
    res = Resource(capacity=C)
    src = Source()
    activate(src, src.generate(res))
    start = time.perf_counter()
    simulate(until=1e12)
    elapsed = time.perf_counter() - start
    print(f"simpy-2.3.1 M/M/8 rho=0.9: {N} customers in {elapsed:.2f}s = {N / elapsed:,.0f} customers/s; "
          f"Wq = {Stats.wait_sum / Stats.served:.4f} (exact 0.876916)")


if __name__ == "__main__":
    main()
