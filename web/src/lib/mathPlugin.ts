// Loaded on demand (a separate chunk): KaTeX is large and most answers have no math.
import rehypeKatex from 'rehype-katex'
import 'katex/dist/katex.min.css'

export default rehypeKatex
