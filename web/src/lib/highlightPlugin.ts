// Loaded on demand (a separate chunk): highlight.js grammars are large and many answers have no code.
import rehypeHighlight from 'rehype-highlight'

export default rehypeHighlight
