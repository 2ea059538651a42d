"""python -m services.scoring"""

from services.serve import serve

serve("scoring")
