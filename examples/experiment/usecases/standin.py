"""A small local stand-in for a language model, so the example needs no API key.

It answers a product search with a JSON list, and sometimes with something that is not JSON,
as real models do. How often depends on the model size and the temperature, and drops by
the amount in the environment variable STANDIN_QUALITY_DROP (e.g. 0.2): that is the
"regression" the probabilistic test must catch. Every answer is drawn from the sample's seed,
so a run with a fixed seed is repeatable. It reports the latency a hosted model would have,
but sleeps only a hundredth of it, so a 200-sample run takes a second, not minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from dataclasses import dataclass

# Chance of a well-formed JSON answer, per model and temperature.
_QUALITY = {"small": 0.86, "large": 0.96}
_TEMPERATURE_PENALTY = 0.08  # per 1.0 of temperature
_LATENCY_MS = {"small": (180, 60), "large": (420, 140)}  # mean, spread
_PRICE_PER_TOKEN = {"small": 0.15e-6, "large": 2.5e-6}

_CATALOG = ["trail runner", "road racer", "court classic", "city walker", "hill climber"]


@dataclass
class Reply:
    text: str
    tokens: int
    cost_usd: float
    latency_ms: float


class StandInModel:
    def __init__(self, size: str, seed: int) -> None:
        if size not in _QUALITY:
            raise ValueError(f"unknown model {size!r}; this stand-in knows {sorted(_QUALITY)}")
        self.size = size
        self.rng = random.Random(seed)

    def quality(self, temperature: float) -> float:
        drop = float(os.environ.get("STANDIN_QUALITY_DROP", "0") or 0)
        return max(0.0, _QUALITY[self.size] - _TEMPERATURE_PENALTY * temperature - drop)

    async def complete(self, prompt: str, temperature: float = 0.0) -> Reply:
        rng = self.rng
        mean, spread = _LATENCY_MS[self.size]
        latency = max(20.0, rng.gauss(mean, spread))
        await asyncio.sleep(latency / 100_000)  # a hundredth of the latency, in seconds
        k = rng.randint(1, 4)
        items = [{"name": rng.choice(_CATALOG), "price": round(rng.uniform(40, 140), 2)} for _ in range(k)]
        text = json.dumps(items)
        if rng.random() >= self.quality(temperature):
            # The classic failure: prose around the JSON, or JSON cut short.
            text = rng.choice([f"Sure! Here are some shoes: {text}", text[: len(text) // 2]])
        tokens = len(prompt.split()) * 2 + len(text) // 4
        return Reply(text, tokens, tokens * _PRICE_PER_TOKEN[self.size], latency)
