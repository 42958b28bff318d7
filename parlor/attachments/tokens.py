"""What an image or a PDF costs in a prompt, by each provider's documented rule (an estimate: the stored
message count and the daily budget use it; the provider's own usage report is what gets billed).

- OpenAI (and OpenAI-compatible endpoints): the image is scaled to fit 2048x2048, then its shorter side
  to 768; it costs 85 tokens plus 170 per 512-pixel tile (high detail). A PDF page is read as its text
  plus an image of the page: a letter page's image (4 tiles, 765) and 1,000 for its text.
- Anthropic: an image scaled to fit 1568 pixels on its longer side costs widthxheight/750; a PDF page
  1,500 to 3,000 tokens of text plus its image (3,000 is counted: the upper end keeps within the window).
- Gemini: 258 tokens per image and 258 per PDF page.
"""

from __future__ import annotations

import math

from parlor.llm.types import MessageFile

OPENAI_PDF_PAGE = 765 + 1000
ANTHROPIC_PDF_PAGE = 3000
GEMINI_TOKENS = 258


def file_tokens(file: MessageFile, rule: str) -> int:
    """`rule`: the provider kind whose rule applies (anthropic, gemini; any other: OpenAI's)."""
    if not file.is_image:
        per_page = {"anthropic": ANTHROPIC_PDF_PAGE, "gemini": GEMINI_TOKENS}.get(rule, OPENAI_PDF_PAGE)
        return per_page * max(file.pages, 1)
    if rule == "gemini":
        return GEMINI_TOKENS
    width, height = max(file.width, 1), max(file.height, 1)
    if rule == "anthropic":
        return anthropic_image(width, height)
    return openai_image(width, height)


def openai_image(width: int, height: int) -> int:
    fit = min(1.0, 2048 / max(width, height))  # within 2048x2048
    fit *= min(1.0, 768 / (min(width, height) * fit))  # then the shorter side at most 768
    return 85 + 170 * math.ceil(width * fit / 512) * math.ceil(height * fit / 512)


def anthropic_image(width: int, height: int) -> int:
    scale = min(1.0, 1568 / max(width, height))
    return math.ceil(width * scale * height * scale / 750)
