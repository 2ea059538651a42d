"""python -m services.intake"""

from services.serve import serve

serve("intake")
