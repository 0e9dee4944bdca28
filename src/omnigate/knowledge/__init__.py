"""Retrieval over uploaded files for the assistants' `file_search` tool (search.py).

1. Each upload of the key's account is indexed once (indexing.py): its text extracted
   (extract.py), cut into overlapping chunks (chunking.py), embedded through the pipeline
   (embed.py) and stored (store/knowledge.py).
2. The query is embedded (charged), and the nearest chunks are ranked by cosine (vectors.py).
"""
