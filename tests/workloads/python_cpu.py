# python_cpu.py — pure-Python CPU work for the interpreter under the shim:
# integer arithmetic, a sieve and a dict of strings, no C extensions. Prints
# one deterministic line and exits with the given status.
# usage: python3 python_cpu.py N EXIT_STATUS
import sys


def collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def count_primes(limit):
    sieve = bytearray([1]) * (limit + 1)
    count = 0
    for i in range(2, limit + 1):
        if sieve[i]:
            count += 1
            for j in range(i * i, limit + 1, i):
                sieve[j] = 0
    return count


def word_lengths(n):
    words = {}
    for k in range(n):
        w = str(k * 2654435761 % 1000003)
        words[w] = words.get(w, 0) + len(w)
    return len(words), sum(words.values())


n = int(sys.argv[1])
total = sum(collatz_steps(k) for k in range(1, n))
print("collatz", total, "primes", count_primes(2 * n), "words", *word_lengths(n // 4))
sys.exit(int(sys.argv[2]))
